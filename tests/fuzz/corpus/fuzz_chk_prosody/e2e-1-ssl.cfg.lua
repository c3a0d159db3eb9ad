data_path = "@DIR@/data"
certificates = "tls"
VirtualHost "good.example"
VirtualHost "own.example"
    ssl = { certificate = "ssl/own.crt"; key = "ssl/own.key" }
Component "conference.own.example" "muc"
VirtualHost "mis.example"
    ssl = {
        key = "@DIR@/etc/ssl/other.key";
        certificate = "@DIR@/etc/ssl/other.crt";
    }
VirtualHost "nokey.example"
    ssl = { certificate = "ssl/own.crt" }
VirtualHost "lua.example"
    ssl = { certificate = CERT_PATH; key = "ssl/own.key" }
