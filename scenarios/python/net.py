TWINS = {}
KILLS = {}
