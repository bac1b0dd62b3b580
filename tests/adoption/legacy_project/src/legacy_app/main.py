import logging

from fastapi import FastAPI

from legacy_app.routes import router


def create_app():
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(message)s"))
    logging.getLogger("legacy_app").addHandler(handler)
    app = FastAPI(title="Legacy App")
    app.include_router(router)
    return app


app = create_app()
