"""The shell: everything that touches the world, each module one kind of contact. Imports the core only.

files, age        manifest files and directories; .age files decrypted in memory
kube, kubewatch   the Kubernetes API: fetch by name; follow with one watch per object
inotify           changes to files, without polling
process, supervise
                  exec, exit statuses, reaping, hardening; a child under trio
audit             one line per open in the mount
http              a minimal endpoint for probes and metrics
output, report    where results go (never a regular file), and the one reporter (stderr)
loop              trio from synchronous code
"""
