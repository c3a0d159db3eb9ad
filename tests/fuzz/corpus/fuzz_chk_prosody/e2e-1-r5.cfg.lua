certificates = ENV_CERTS
VirtualHost "good.example"
