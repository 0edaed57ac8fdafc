from django.core.management.base import BaseCommand

from demo.catalogue import DEPARTMENT_PASSWORD, USERS
from demo.loading import load_demo_city


class Command(BaseCommand):
    help = (
        "Load (or refresh) the Hefei demo city: districts, domains, sensors, thresholds, departments, routing, users."
    )

    def handle(self, *args, **options) -> None:
        summary = load_demo_city()
        self.stdout.write(
            f"Districts {summary.districts}, risk domains {summary.domains}, sensor types {summary.sensor_types}, "
            f"threshold rules {summary.threshold_rules}"
        )
        self.stdout.write(
            f"Sensors {summary.sensors} ({summary.sensors_created} new), gateways {summary.gateways} "
            f"({summary.gateways_created} new), departments {summary.departments}, "
            f"routing policies {summary.routing_policies}, response plans {summary.response_plans}, "
            f"surroundings {summary.surroundings_created} new"
        )
        logins = ", ".join(f"{u.username}/{u.password}" for u in USERS)
        self.stdout.write(
            f"Users {summary.users}: {logins}; every other department: <department code>/{DEPARTMENT_PASSWORD}"
        )
        self.stdout.write("Gateway tokens are issued afresh by simulate_readings.")
        self.stdout.write(self.style.SUCCESS(f"Demo city loaded in {summary.seconds:.1f} s."))
