from services.metrics.app import create_app
from services.metrics.settings import MetricsSettings
from shared.serve import serve

if __name__ == "__main__":
    serve(create_app, MetricsSettings())
