VirtualHost "good.example"

Include "missing.cfg.lua"
