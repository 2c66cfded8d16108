module github.com/fdo-doip/doip-gateway/gateway

go 1.26.0
