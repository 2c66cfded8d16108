module github.com/fdo-doip/doip-gateway/retrieve-svc

go 1.26.0
