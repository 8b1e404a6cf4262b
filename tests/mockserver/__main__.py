from tests.mockserver.server import serve

serve()
