module hearth.dev/hearth

go 1.19
