"""`python -m huoli …` runs the same CLI as the `huoli` command."""

from huoli.cli import main

main()
