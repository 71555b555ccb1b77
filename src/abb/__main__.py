from abb.cli import app

app()
