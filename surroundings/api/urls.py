from django.urls import path

from surroundings.api.views import LayerView
from surroundings.models import LAYERS

urlpatterns = [
    path(
        f"surroundings/{layer}/",
        LayerView.as_view(layer=layer),
        name=f"api-surroundings-{layer}",
    )
    for layer in LAYERS
]
