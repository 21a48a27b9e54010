"""A tiny web application used as the example project for `make demo`."""

import flask
import requests

app = flask.Flask(__name__)


@app.route("/")
def index() -> str:
    return requests.__version__
