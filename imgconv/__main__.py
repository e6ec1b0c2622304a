from imgconv.cli import run

run()
