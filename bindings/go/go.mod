module github.com/vinesync/vinesync/bindings/go

go 1.21
