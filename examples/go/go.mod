module github.com/vinesync/vinesync/examples/go

go 1.21

require github.com/vinesync/vinesync/bindings/go v0.0.0

require github.com/google/uuid v1.6.0

replace github.com/vinesync/vinesync/bindings/go => ../../bindings/go
