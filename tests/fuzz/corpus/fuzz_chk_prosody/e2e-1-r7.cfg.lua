VirtualHost "good.example"
  enabled = false
