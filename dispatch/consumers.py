from channels.generic.websocket import JsonWebsocketConsumer


class LiveConsumer(JsonWebsocketConsumer):
    pass
