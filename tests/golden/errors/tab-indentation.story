shot a:
	A quiet street.
