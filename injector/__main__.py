from injector.cli import run

run()
