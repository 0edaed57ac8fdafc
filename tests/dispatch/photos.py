"""Uploading a report photo through the API, as the pages do."""

from django.core.files.uploadedfile import SimpleUploadedFile


def upload(client, order, name: str, data: bytes, content_type: str = "image/jpeg"):
    return client.post(
        f"/api/v1/work-orders/{order.pk}/photos/", {"photo": SimpleUploadedFile(name, data, content_type=content_type)}
    )
