module github.com/jwt-authz/jwt-authz/test/dockerfile

go 1.26.8
