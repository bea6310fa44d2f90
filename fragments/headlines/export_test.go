package headlines

// CheckMoved exposes the check of data/moved.json to tests.
var CheckMoved = moved
