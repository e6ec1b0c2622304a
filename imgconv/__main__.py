from imgconv.cli import console

console()
