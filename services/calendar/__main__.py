from services.calendar.app import create_app
from services.calendar.settings import CalendarSettings
from shared.serve import serve

if __name__ == "__main__":
    serve(create_app, CalendarSettings())
