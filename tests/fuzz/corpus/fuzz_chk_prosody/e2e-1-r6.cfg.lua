certificates = "/nonexistent/certs"
VirtualHost "good.example"
