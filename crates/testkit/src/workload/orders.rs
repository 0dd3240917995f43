//! The workload's orders: placed with the reservation process, paid, shipped, delivered, cancelled, expired,
//! returned and refunded, with the inventory steps each causes (reserve, release, commit, restock).

use super::Generator;
use chrono::Duration;
use tally_domain::catalog::price_lines;
use tally_domain::inventory::ReleaseReason;
use tally_domain::order::{ItemLine, OrderStatus, PlacedOrder, Shortage};
use tally_domain::{
    Currency, CustomerId, InventoryCommand, InventoryError, LocationId, Money, OrderCommand, OrderId, Quantity,
    ReturnId, ShipmentId, Sku,
};
use uuid::Uuid;

impl Generator {
    /// The reservation process: place, reserve each line, then confirm, or release and reject.
    pub(super) fn place_order(&mut self) {
        let currency = Currency::parse(if self.rng.chance(75) { "EUR" } else { "USD" }).unwrap();
        let candidates: Vec<Sku> = self
            .active_skus()
            .into_iter()
            .filter(|sku| self.products[sku].0.details().unwrap().price().currency() == currency)
            .collect();
        let mut requested: Vec<(Sku, Quantity)> = Vec::new();
        for _ in 0..self.rng.range(1, 3) {
            let Some(sku) = self.rng.pick(&candidates).cloned() else { return };
            if requested.iter().all(|(s, _)| s != &sku) {
                requested.push((sku, Quantity::new(u32::try_from(self.rng.range(1, 6)).unwrap()).unwrap()));
            }
        }
        let Ok(lines) = price_lines(&requested, |sku| self.products.get(sku).map(|(p, _)| p)) else { return };
        let order_id = OrderId::from_uuid(Uuid::new_v4());
        let customer = self.rng.range(1, self.options.customers);
        let customer_id = match self.options.shard {
            Some(shard) => format!("cus-{shard}-{customer}"),
            None => format!("cus-{customer}"),
        };
        let customer_id = CustomerId::parse(&customer_id).unwrap();
        let place = OrderCommand::PlaceOrder { order_id, customer_id, lines: lines.clone(), placed_at: self.clock };
        if !self.order(&order_id, place) {
            return;
        }
        self.count("place");
        self.open_orders.push_back(order_id);
        if self.open_orders.len() > self.options.max_open_orders {
            self.let_go();
        }
        if self.rng.chance(5) {
            return; // left pending (a crash before reserving): the cancel path takes these
        }
        let reserved_until = self.clock + Duration::minutes(30);
        let mut shortages = Vec::new();
        let mut reserved = Vec::new();
        for line in &lines {
            let reserve =
                InventoryCommand::ReserveStock { order_id, quantity: line.quantity, expires_at: reserved_until };
            match self.inventory(&line.sku, reserve) {
                Ok(()) => reserved.push(line.sku.clone()),
                Err(InventoryError::InsufficientStock { available, .. }) => {
                    shortages.push(Shortage { sku: line.sku.clone(), requested: line.quantity, available })
                }
                Err(other) => panic!("unexpected refusal: {other}"),
            }
        }
        if shortages.is_empty() {
            assert!(self.order(&order_id, OrderCommand::ConfirmOrder { reserved_until }));
            self.count("confirm");
        } else {
            self.release(order_id, &reserved, ReleaseReason::Rejected);
            assert!(self.order(&order_id, OrderCommand::RejectOrder { shortages }));
            self.count("reject");
        }
    }

    /// Stops playing with the oldest order: cancelled (its stock released) if still pending or confirmed, then
    /// forgotten.
    fn let_go(&mut self) {
        let Some(id) = self.open_orders.pop_front() else { return };
        let open = [OrderStatus::Pending, OrderStatus::Confirmed];
        if self.orders[&id].0.status().is_some_and(|s| open.contains(&s)) {
            self.cancel(Some(id));
        }
        self.orders.remove(&id);
    }

    fn release(&mut self, order_id: OrderId, skus: &[Sku], reason: ReleaseReason) {
        for sku in skus {
            self.inventory(sku, InventoryCommand::ReleaseReservation { order_id, reason }).expect("release");
        }
    }

    fn orders_in(&self, statuses: &[OrderStatus]) -> Vec<OrderId> {
        self.orders
            .iter()
            .filter(|(_, (order, _))| order.status().is_some_and(|s| statuses.contains(&s)))
            .map(|(id, _)| *id)
            .collect()
    }

    fn placed(&self, id: &OrderId) -> PlacedOrder {
        self.orders[id].0.placed().unwrap().clone()
    }

    pub(super) fn capture(&mut self) {
        let Some(id) = self.rng.pick(&self.orders_in(&[OrderStatus::Confirmed])).copied() else { return };
        let outstanding = self.placed(&id).outstanding();
        let amount = if self.rng.chance(30) && outstanding.minor() > 1 {
            Money::new(outstanding.minor() / 2, outstanding.currency())
        } else {
            outstanding
        };
        let reference = format!("psp_{}", self.rng.range(1, 1_000_000));
        if self.order(&id, OrderCommand::CapturePayment { amount, reference }) {
            self.count("capture");
        }
    }

    pub(super) fn ship(&mut self) {
        let Some(id) = self.rng.pick(&self.orders_in(&OrderStatus::SHIPPABLE)).copied() else { return };
        let unshipped = self.placed(&id).unshipped_lines();
        let lines: Vec<ItemLine> = if self.rng.chance(50) {
            Vec::new()
        } else {
            let first = unshipped[0].clone();
            let quantity =
                Quantity::new(u32::try_from(self.rng.range(1, u64::from(first.quantity.get()))).unwrap()).unwrap();
            vec![ItemLine { sku: first.sku, quantity }]
        };
        let shipped = if lines.is_empty() { unshipped } else { lines.clone() };
        let shipment_id = ShipmentId::from_uuid(Uuid::new_v4());
        let command = OrderCommand::DispatchShipment {
            shipment_id,
            lines,
            carrier: "dhl".to_owned(),
            tracking_number: format!("1Z{}", self.rng.range(1, 1_000_000)),
        };
        if !self.order(&id, command) {
            return;
        }
        self.count("ship");
        for line in shipped {
            let commit = InventoryCommand::CommitReservation { order_id: id, shipment_id, quantity: line.quantity };
            self.inventory(&line.sku, commit).expect("commit the shipped units");
        }
    }

    pub(super) fn deliver(&mut self) {
        let Some(id) = self.rng.pick(&self.orders_in(&[OrderStatus::Shipped])).copied() else { return };
        if self.order(&id, OrderCommand::DeliverOrder) {
            self.count("deliver");
        }
    }

    /// Cancels `id`, or a random cancellable order, releasing its stock.
    pub(super) fn cancel(&mut self, id: Option<OrderId>) {
        let id = match id {
            Some(id) => id,
            None => {
                let Some(id) = self.rng.pick(&self.orders_in(&OrderStatus::CANCELLABLE)).copied() else { return };
                id
            }
        };
        if !self.order(&id, OrderCommand::CancelOrder { reason: "customer request".to_owned() }) {
            return;
        }
        self.count("cancel");
        let skus: Vec<Sku> = self.placed(&id).lines().iter().map(|l| l.sku.clone()).collect();
        self.release(id, &skus, ReleaseReason::Cancelled);
    }

    pub(super) fn expire(&mut self) {
        let Some(id) = self.rng.pick(&self.orders_in(&[OrderStatus::Confirmed])).copied() else { return };
        let now = self.clock + Duration::hours(1);
        if !self.order(&id, OrderCommand::ExpireOrder { now }) {
            return;
        }
        self.count("expire");
        let skus: Vec<Sku> = self.placed(&id).lines().iter().map(|l| l.sku.clone()).collect();
        self.release(id, &skus, ReleaseReason::Expired);
    }

    pub(super) fn return_goods(&mut self) {
        let candidates: Vec<OrderId> = self
            .orders_in(&OrderStatus::RETURNABLE)
            .into_iter()
            .filter(|id| {
                let order = self.placed(id);
                order.lines().iter().any(|l| order.returnable(&l.sku) > 0)
            })
            .collect();
        let Some(id) = self.rng.pick(&candidates).copied() else { return };
        let order = self.placed(&id);
        let Some(line) = order.lines().iter().find(|l| order.returnable(&l.sku) > 0) else { return };
        let most = u64::from(order.returnable(&line.sku));
        let quantity = Quantity::new(u32::try_from(self.rng.range(1, most)).unwrap()).unwrap();
        let restock = self.rng.chance(70);
        let location = LocationId::main();
        let lines = vec![ItemLine { sku: line.sku.clone(), quantity }];
        let command = OrderCommand::ReceiveReturn { lines, restock, location: location.clone() };
        if !self.order(&id, command) {
            return;
        }
        self.count("return");
        if restock {
            let return_id = ReturnId::from_uuid(Uuid::new_v4());
            let restock = InventoryCommand::RestockReturn { order_id: id, return_id, location, quantity };
            self.inventory(&line.sku, restock).expect("restock");
        }
    }

    pub(super) fn refund(&mut self) {
        let candidates: Vec<OrderId> = self
            .orders_in(&OrderStatus::REFUNDABLE)
            .into_iter()
            .filter(|id| self.placed(id).refundable().is_positive())
            .collect();
        let Some(id) = self.rng.pick(&candidates).copied() else { return };
        let refundable = self.placed(&id).refundable();
        let amount = Money::new(
            i64::try_from(self.rng.range(1, u64::try_from(refundable.minor()).unwrap())).unwrap(),
            refundable.currency(),
        );
        if self.order(&id, OrderCommand::IssueRefund { amount, reason: "goodwill".to_owned() }) {
            self.count("refund");
        }
    }
}
