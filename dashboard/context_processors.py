def roles(request):
    return {}
