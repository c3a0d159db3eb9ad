local domain = "example.com"
VirtualHost("xmpp." .. domain)
