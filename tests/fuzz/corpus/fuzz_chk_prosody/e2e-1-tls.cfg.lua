data_path = "@DIR@/data"
certificates = "tls"
VirtualHost "good.example"
Include "extra.d/*.cfg.lua"
