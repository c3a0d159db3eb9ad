VirtualHost "good.example"
Include "nodir/*.cfg.lua"
