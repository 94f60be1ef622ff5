//! The road network: nodes (junctions and shape points) joined by straight edges, with shortest paths.
//!
//! Every route in the demo world, approved or driven, is a sequence of nodes in which each consecutive
//! pair is an edge: that is what "stays on the road network" means and what the tests check.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use tianshu_model::geo::LonLat;

/// A node's index in [`RoadNetwork::nodes`].
pub type NodeId = u32;

/// The kind of road, which sets the cruising speed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RoadClass {
    /// A city street (about 40 km/h).
    Street,
    /// An arterial road between towns (about 70 km/h).
    Arterial,
    /// An expressway (about 100 km/h).
    Expressway,
}

impl RoadClass {
    /// The typical cruising speed on this class in km/h.
    pub const fn cruise_speed_kmh(self) -> f64 {
        match self {
            RoadClass::Street => 40.0,
            RoadClass::Arterial => 70.0,
            RoadClass::Expressway => 100.0,
        }
    }
}

/// A junction or shape point.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    /// Where it is (WGS-84).
    pub pos: LonLat,
}

/// A straight piece of road between two nodes, usable both ways.
#[derive(Debug, Clone, PartialEq)]
pub struct Edge {
    /// One end.
    pub a: NodeId,
    /// The other end.
    pub b: NodeId,
    /// Length in metres (great-circle between the ends).
    pub length_m: f64,
    /// Road class (speed).
    pub class: RoadClass,
    /// Index into the network's road names.
    pub road: u16,
}

/// An undirected road graph.
#[derive(Debug, Clone, Default)]
pub struct RoadNetwork {
    /// All nodes; a [`NodeId`] indexes this.
    pub nodes: Vec<Node>,
    /// All edges.
    pub edges: Vec<Edge>,
    /// Road names, indexed by [`Edge::road`].
    pub road_names: Vec<String>,
    /// For each node, the indices of its edges.
    adjacency: Vec<Vec<u32>>,
}

impl RoadNetwork {
    /// Adds a node and returns its id.
    pub fn add_node(&mut self, pos: LonLat) -> NodeId {
        self.nodes.push(Node { pos });
        self.adjacency.push(Vec::new());
        (self.nodes.len() - 1) as NodeId
    }

    /// Registers a road name and returns its index.
    pub fn add_road_name(&mut self, name: &str) -> u16 {
        if let Some(i) = self.road_names.iter().position(|n| n == name) {
            return i as u16;
        }
        self.road_names.push(name.to_string());
        (self.road_names.len() - 1) as u16
    }

    /// Joins two nodes with an edge (ignored if they are the same node or already joined).
    pub fn add_edge(&mut self, a: NodeId, b: NodeId, class: RoadClass, road: u16) {
        if a == b || self.edge_between(a, b).is_some() {
            return;
        }
        let length_m = self.pos(a).distance_m(self.pos(b));
        let idx = self.edges.len() as u32;
        self.edges.push(Edge {
            a,
            b,
            length_m,
            class,
            road,
        });
        self.adjacency[a as usize].push(idx);
        self.adjacency[b as usize].push(idx);
    }

    /// A node's position.
    pub fn pos(&self, n: NodeId) -> LonLat {
        self.nodes[n as usize].pos
    }

    /// The edge joining `a` and `b`, if any.
    pub fn edge_between(&self, a: NodeId, b: NodeId) -> Option<&Edge> {
        self.adjacency
            .get(a as usize)?
            .iter()
            .map(|&e| &self.edges[e as usize])
            .find(|e| (e.a == a && e.b == b) || (e.a == b && e.b == a))
    }

    /// The edges touching a node.
    pub fn edges_of(&self, n: NodeId) -> impl Iterator<Item = &Edge> {
        self.adjacency[n as usize]
            .iter()
            .map(|&e| &self.edges[e as usize])
    }

    /// The node nearest to `p` (linear scan; the world has a few hundred nodes).
    pub fn nearest_node(&self, p: LonLat) -> NodeId {
        let mut best = (f64::INFINITY, 0);
        for (i, n) in self.nodes.iter().enumerate() {
            let d = n.pos.distance_m(p);
            if d < best.0 {
                best = (d, i as NodeId);
            }
        }
        best.1
    }

    /// Whether every consecutive pair of `path` is joined by an edge.
    pub fn is_connected_path(&self, path: &[NodeId]) -> bool {
        path.windows(2).all(|w| self.edge_between(w[0], w[1]).is_some())
    }

    /// Length of a node path in metres (edges that do not exist count as straight lines).
    pub fn path_length_m(&self, path: &[NodeId]) -> f64 {
        path.windows(2)
            .map(|w| self.pos(w[0]).distance_m(self.pos(w[1])))
            .sum()
    }

    /// The shortest path from `from` to `to` by length (Dijkstra), or `None` if unreachable.
    /// The path includes both ends; `from == to` gives `[from]`.
    pub fn shortest_path(&self, from: NodeId, to: NodeId) -> Option<Vec<NodeId>> {
        let n = self.nodes.len();
        if from as usize >= n || to as usize >= n {
            return None;
        }
        let mut dist = vec![u64::MAX; n];
        let mut prev = vec![u32::MAX; n];
        let mut heap = BinaryHeap::new();
        dist[from as usize] = 0;
        heap.push(Reverse((0u64, from)));
        while let Some(Reverse((d, u))) = heap.pop() {
            if u == to {
                break;
            }
            if d > dist[u as usize] {
                continue;
            }
            for &ei in &self.adjacency[u as usize] {
                let e = &self.edges[ei as usize];
                let v = if e.a == u { e.b } else { e.a };
                // Whole millimetres keep the heap ordering exact and deterministic.
                let nd = d + (e.length_m * 1000.0) as u64;
                if nd < dist[v as usize] {
                    dist[v as usize] = nd;
                    prev[v as usize] = u;
                    heap.push(Reverse((nd, v)));
                }
            }
        }
        if dist[to as usize] == u64::MAX {
            return None;
        }
        let mut path = vec![to];
        let mut cur = to;
        while cur != from {
            cur = prev[cur as usize];
            path.push(cur);
        }
        path.reverse();
        Some(path)
    }

    /// The shortest path through `waypoints` in order (joined legs without repeated junction nodes).
    pub fn path_through(&self, waypoints: &[NodeId]) -> Option<Vec<NodeId>> {
        let mut out: Vec<NodeId> = Vec::new();
        for w in waypoints.windows(2) {
            let leg = self.shortest_path(w[0], w[1])?;
            let skip = usize::from(!out.is_empty());
            out.extend_from_slice(&leg[skip..]);
        }
        if out.is_empty() {
            out.extend(waypoints.first());
        }
        Some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dijkstra_prefers_the_short_way_round() {
        let mut g = RoadNetwork::default();
        let a = g.add_node(LonLat::new(115.0, 30.0));
        let b = g.add_node(LonLat::new(115.01, 30.0));
        let c = g.add_node(LonLat::new(115.02, 30.0));
        let d = g.add_node(LonLat::new(115.01, 30.05));
        let r = g.add_road_name("x");
        g.add_edge(a, b, RoadClass::Street, r);
        g.add_edge(b, c, RoadClass::Street, r);
        g.add_edge(a, d, RoadClass::Street, r);
        g.add_edge(d, c, RoadClass::Street, r);
        assert_eq!(g.shortest_path(a, c), Some(vec![a, b, c]));
        assert_eq!(g.path_through(&[a, d, a]), Some(vec![a, d, a]));
        let lonely = g.add_node(LonLat::new(116.0, 31.0));
        assert_eq!(g.shortest_path(a, lonely), None);
        assert!(g.is_connected_path(&[a, b, c, d]));
        assert!(!g.is_connected_path(&[a, c]));
    }
}
