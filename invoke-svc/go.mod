module github.com/fdo-doip/doip-gateway/invoke-svc

go 1.26.0
