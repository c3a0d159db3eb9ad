VirtualHost ( "wrong.example" )
