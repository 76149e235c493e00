module github.com/popgate/popgate

go 1.26.8
