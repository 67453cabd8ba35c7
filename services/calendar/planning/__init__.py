"""Planning: frequency rules, key dates and the calendar of slots generated from a strategy."""
