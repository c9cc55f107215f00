"""The baseline for the one-file benchmark: a bare typer command that only parses a file.

Same CLI framework and the same C loader (libyaml) as dra-migrate, nothing else.
"""


import typer
import yaml

app = typer.Typer(add_completion=False)


@app.command()
def check(paths: list[str] = typer.Argument(...), quiet: bool = typer.Option(False, "--quiet", "-q")) -> None:
    for path in paths:
        with open(path, encoding="utf-8") as fh:
            list(yaml.load_all(fh.read(), Loader=yaml.CSafeLoader))


if __name__ == "__main__":
    app()
