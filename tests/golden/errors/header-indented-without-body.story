  shot opening 5s:
