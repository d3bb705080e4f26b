"""The demo function: `lambda-oci build ... --handler app.handler`.

demo_greeting comes from the demo layer (testdata/demo/layer.zip), which
Lambda extracts under /opt; the Python runtime finds it on /opt/python.
"""

from demo_greeting import greet


def handler(event, context):
    name = (event or {}).get("name", "world")
    return {"message": greet(name)}
