"""The pure core: data in, data out. No I/O, no trio, no pyfuse3, no clients, no environment.

The pipeline, in order:

    manifest   bytes of a file -> documents (YAML/JSON, guarded against hostile input)
    objects    documents -> validated Secrets and ConfigMaps, indexed by kind/namespace/name
    podspec    a document -> the pod (template)'s secret-consuming fields, each with its FieldPath
    resolve    plan what the pod references, then resolve one container against a snapshot
               (env with ``expand``'s ``$(VAR)``, volume files, registry credentials)
    envfile, dockerconfig, filetree
               render a resolution: env-files, ``config.json``, the mount's view
    mask       redact values from a byte stream

``fields`` (FieldPath, the one Problems collector) and ``names`` (Kubernetes' name rules) serve
them all. Every problem is collected with its file, object and field path, never a value.
"""
