// An amc plug-in in Go (docs/plugins.md, "Go"): no requirements, so it
// builds with Debian's golang-go and nothing downloaded.
module amc.example/plugin_go

go 1.19
