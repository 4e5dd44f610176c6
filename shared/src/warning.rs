//! Warnings: what the library has to say that is not an error.
//!
//! Some things go wrong without stopping a container: a capability the
//! runtime cannot raise, a cgroup directory that would not go away. runc
//! writes those to its `--log` file, where the engine that called it reads
//! them; a container manager sends them to its own log. So the library
//! never prints them itself: it hands each one to the handler the binary
//! installs, and keeps them in a list when no handler is installed, for a
//! caller that would rather [`take`] them.

use std::sync::Mutex;

type Handler = Box<dyn Fn(&str) + Send + Sync>;

static HANDLER: Mutex<Option<Handler>> = Mutex::new(None);
static PENDING: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// Send every warning to `handler` from now on (a binary installs one at
/// start: print it, log it, or both).
pub fn set_handler(handler: impl Fn(&str) + Send + Sync + 'static) {
    *HANDLER.lock().unwrap_or_else(|e| e.into_inner()) = Some(Box::new(handler));
}

/// Report a warning: to the installed handler, or into the list [`take`]
/// returns.
pub fn warn(message: impl Into<String>) {
    let message = message.into();
    let handler = HANDLER.lock().unwrap_or_else(|e| e.into_inner());
    match handler.as_ref() {
        Some(handler) => handler(&message),
        None => PENDING
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(message),
    }
}

/// The warnings reported while no handler was installed, oldest first.
pub fn take() -> Vec<String> {
    std::mem::take(&mut *PENDING.lock().unwrap_or_else(|e| e.into_inner()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_a_handler_warnings_wait_to_be_taken() {
        warn("one");
        warn(String::from("two"));
        let taken = take();
        assert!(taken.ends_with(&["one".to_string(), "two".to_string()]));
        assert!(take().is_empty());
    }
}
