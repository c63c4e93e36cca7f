// LiveMaps
