--[==[ file sharing
]] still the comment ]=]
]==]
Component 'upload.example' "http_file_share" {
    http_file_share_size_limit = 10 * 1024 * 1024;
}
