package specs

import (
	"bytes"
	"errors"
	"io"

	"gopkg.in/yaml.v3"
)

func decodeNodesOnly(data []byte) error {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var n yaml.Node
		if err := dec.Decode(&n); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
	}
}
