package main

import (
	"context"
	"fmt"
	"io"
)

func runServer(ctx context.Context, cmd string, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	return fmt.Errorf("%w: unknown command %q", errUsage, cmd)
}
