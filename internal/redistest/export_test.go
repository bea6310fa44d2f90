package redistest

var Unavailable = unavailable
