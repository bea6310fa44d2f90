package scaffold

// SetWriteFile replaces the function that writes each file until the
// returned restore is called.
func SetWriteFile(f func(name string, data []byte) error) (restore func()) {
	old := writeFile
	writeFile = f
	return func() { writeFile = old }
}
