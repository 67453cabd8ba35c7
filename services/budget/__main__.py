from services.budget.app import create_app
from services.budget.settings import BudgetSettings
from shared.serve import serve

if __name__ == "__main__":
    serve(create_app, BudgetSettings())
