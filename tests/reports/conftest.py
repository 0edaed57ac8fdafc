# The small gas and water city of dispatch's tests, and its reading helper.
from tests.dispatch.conftest import city, reach  # noqa: F401
