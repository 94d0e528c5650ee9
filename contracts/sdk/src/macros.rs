//! The `methods!` and `reentrant!` macros.

/// Declares exported contract methods with typed parameters and result.
///
/// Each `fn name(a: A, b: B) -> R { body }` becomes an exported
/// `extern "C" fn name()` that decodes its arguments from the call's input
/// as the borsh tuple `(A, B)` (ending the call with `invalid arguments` if
/// they do not decode), runs `body`, and, if a result type is given, returns
/// the borsh encoding of the result. A method with no parameters takes empty
/// input.
///
/// ```ignore
/// detvm_sdk::methods! {
///     /// Moves `amount` from the caller to `to`.
///     fn transfer(to: String, amount: u128) { /* ... */ }
///
///     /// The balance of `account`.
///     fn balance_of(account: String) -> u128 { /* ... */ }
/// }
/// ```
///
/// The names become the module's export names, so they must be unique
/// across the whole contract.
#[macro_export]
macro_rules! methods {
    ($(
        $(#[$attr:meta])*
        fn $name:ident($($arg:ident : $ty:ty),* $(,)?) $(-> $ret:ty)? $body:block
    )*) => {$(
        $(#[$attr])*
        #[unsafe(no_mangle)]
        pub extern "C" fn $name() {
            fn method($($arg: $ty),*) $(-> $ret)? $body
            let ($($arg,)*): ($($ty,)*) = $crate::input();
            let _result = method($($arg),*);
            $(
                $crate::return_value::<$ret>(&_result);
            )?
        }
    )*};
}

/// Marks the contract reentrant: it may be called while it is already
/// running in the transaction (A → B → A, or A → A). Without it, the host
/// refuses such calls with `reentrancy`.
///
/// Expands to an export named `__detvm_reentrant`, which the host looks for
/// at deploy. It takes a parameter so that it is not a method: calling it
/// is refused with `not_a_method`.
///
/// A reentrant contract must keep its state consistent across every call it
/// makes: write what a nested call may read before making the call, and do
/// not rely on values read before it.
///
/// ```ignore
/// detvm_sdk::reentrant!();
/// ```
#[macro_export]
macro_rules! reentrant {
    () => {
        /// Marks this contract reentrant for the host; not a method.
        #[unsafe(no_mangle)]
        pub extern "C" fn __detvm_reentrant(_marker: u32) {}
    };
}
