import MapController

// The typed handle the `typed-*` and `window-*` targets time.
//
// Issue 9 replaces the JSON-backed `TypedMapHandle<Value>` with a native `TypedMap<Key, Value>` bound
// before `start()`. Until that lands, build with `-Xswiftc -DGOVERNED_TYPED_MAP` to time the new one;
// by default the bench times the handle on main, so that it builds and gives a "before" figure.
#if GOVERNED_TYPED_MAP
    typealias BenchTypedHandle = TypedMap<String, User>

    let typedAPIDescription = "TypedMap<String, User> (native, bound before start)"

    func bindTyped(_ controller: Controller) throws -> BenchTypedHandle {
        try controller.map(GovernedTargets.mapName, as: User.self)
    }
#else
    typealias BenchTypedHandle = TypedMapHandle<User>

    let typedAPIDescription = "TypedMapHandle<User> (JSON through JSONValue; the native TypedMap is not on this build)"

    func bindTyped(_ controller: Controller) throws -> BenchTypedHandle {
        try controller.map(GovernedTargets.mapName, as: User.self)
    }
#endif
